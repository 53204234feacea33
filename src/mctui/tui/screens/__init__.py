"""Modal screens: ring, join, help."""
