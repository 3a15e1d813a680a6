"""What the routes call: one module per area, each owning its transactions."""
