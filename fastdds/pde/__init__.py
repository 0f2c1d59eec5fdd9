"""fastdds.pde."""
