"""spritegan.serve."""
