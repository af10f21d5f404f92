import sys

from backlight_server.cli import main

sys.exit(main())
