"""Red-team attacks: phrasing forms, strategies, quality filters and the attack archive."""
