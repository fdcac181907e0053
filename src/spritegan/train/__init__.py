"""spritegan.train."""
