"""The local stack manager behind `profiteer up/down/status`: embedded services, started and stopped by PID."""
