"""Privacy controls: withdrawal effects, retention purges, data-subject export and erasure."""
