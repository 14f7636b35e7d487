"""makemore."""
