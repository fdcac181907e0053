"""spritegan.export."""
