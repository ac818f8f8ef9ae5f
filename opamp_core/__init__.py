"""The OpAMP wire code the portal and the gateway supervisor share.

The generated protobuf messages (`proto`), the WebSocket framing (`framing`), the stand-alone
messages and capability bits (`messages`), the protocol core (`protocol`, with `convert` and
the report `bounds`) and gzip bodies (`compression`). Pure Python (protobuf and the standard
library): no Django, no Channels, no app of the portal, so the gateway image copies this
package whole and nothing else of the portal (tests/gateway/test_no_django.py). The portal's
delivery layer (consumers, views, services) is `opamp_app`.
"""
