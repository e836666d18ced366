"""What runs by itself: jobs, schedules and sensors."""
