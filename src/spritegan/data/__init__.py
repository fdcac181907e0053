"""spritegan.data."""
