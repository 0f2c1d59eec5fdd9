"""fastdds.pinn."""
