"""`python -m gateway` / `flowgate-gateway`: run the supervisor until SIGTERM or SIGINT.

Exit codes: 0 after a clean stop, 1 when enrollment or the setup failed (the message says
why), 2 for invalid settings.
"""

import asyncio
import logging
import sys

from gateway import config
from gateway.collector import is_executable
from gateway.configs import ConfigError
from gateway.enroll import EnrollmentError
from gateway.supervisor import Supervisor


def main(argv=None) -> int:
    try:
        settings = config.load(argv)
    except config.SettingsError as error:
        print(f"flowgate-gateway: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr
    )
    # websockets logs request headers at DEBUG, the Authorization header (our token) included.
    logging.getLogger("websockets").setLevel(max(logging.INFO, logging.getLogger().level))
    if settings.mode == "supervisor" and not is_executable(settings.collector):
        print("flowgate-gateway: no collector binary found; set --collector or FLOWGATE_COLLECTOR", file=sys.stderr)
        return 2
    try:
        return asyncio.run(Supervisor(settings).run())
    except (EnrollmentError, ConfigError, RuntimeError) as error:
        logging.getLogger("gateway").error("%s", error)
        return 1


if __name__ == "__main__":
    sys.exit(main())
