"""Lowering of fixed-point IR networks to Lava process graphs."""
