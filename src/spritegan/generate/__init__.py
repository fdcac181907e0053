"""spritegan.generate."""
