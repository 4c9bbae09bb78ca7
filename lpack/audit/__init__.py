"""What would fail on Lambda: native files for the wrong CPU or glibc, .pth files, bootstraps, handlers."""
