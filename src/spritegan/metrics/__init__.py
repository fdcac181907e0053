"""spritegan.metrics."""
