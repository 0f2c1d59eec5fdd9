"""fastdds.nn."""
