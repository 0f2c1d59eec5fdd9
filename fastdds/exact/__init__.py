"""fastdds.exact."""
