"""Colour-blind-safe chart colours (Okabe & Ito, 2008), one fixed colour per emotion.

Fixed so a colour means the same emotion on every chart; the CSS legend swatches
(dashboard.css, .emo-<name>) use the same values.
"""

from __future__ import annotations

EMOTION_COLOURS: dict[str, str] = {
    "angry": "#D55E00",  # vermillion
    "disgust": "#009E73",  # bluish green
    "fear": "#CC79A7",  # reddish purple
    "happy": "#F0E442",  # yellow
    "neutral": "#56B4E9",  # sky blue
    "sad": "#0072B2",  # blue
    "surprise": "#E69F00",  # orange
}
ENGAGEMENT_COLOUR = "#000000"
NEGATIVE_COLOUR = "#D55E00"
