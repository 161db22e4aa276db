import sys

from wellbeing_capture.client import main

sys.exit(main())
