"""OpAMP protobuf messages, generated from anyvalue.proto and opamp.proto by generate.sh.

Plain Python with no Django imports: the gateway supervisor imports this package too.
Never edit the *_pb2 modules by hand; change the .proto files and run `make proto`.
"""
