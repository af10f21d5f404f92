"""Operations: health check, Prometheus metrics, `backlight migrate`."""
