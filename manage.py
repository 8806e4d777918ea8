#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sms4sats_site.settings")
    from sms4sats_site import local_state

    local_state.load_env_file()
    local_state.prepare()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
