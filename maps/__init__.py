"""wangge rendering: web maps and print layouts."""
