"""Training: the loop (emits events, never knows who listens), the process that hosts it, its control."""
