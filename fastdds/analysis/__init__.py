"""fastdds.analysis."""
