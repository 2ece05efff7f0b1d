"""moto's server for Hearth's tests, with two repairs to its DynamoDB TransactWriteItems.

moto (5.2.x) applies TransactWriteItems without isolation between request threads, and on a
cancelled transaction restores a deep copy of every table it touched, taken before the
transaction: concurrent writers see two winners of a conditional race, a rollback erases other
clients' writes made meanwhile, and the per-item table copies make long runs quadratic in time
and memory. Here every request runs under one lock (DynamoDB then behaves serializably, as
the real service does for conflicting transactions), tables are no longer deep-copied, and a
cancelled transaction restores only the items it touched.

Usage: serve.py PORT  (listens on 127.0.0.1 only)
"""

import copy
import sys
import threading

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


class _CopyAllButTables:
    """Stands in for the `copy` module inside moto's DynamoDB models."""

    @staticmethod
    def deepcopy(value, memo=None):
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


dynamodb_models.copy = _CopyAllButTables
_transact_write_items = dynamodb_models.DynamoDBBackend.transact_write_items


def transact_write_items(self, transact_items):
    saved = []
    try:
        for entry in transact_items:
            kind, op = next(iter(entry.items()))
            table = self.get_table(op["TableName"])
            attrs = op["Item"] if kind == "Put" else op["Key"]
            hash_key = DynamoType(attrs[table.hash_key_attr])
            range_key = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
            saved.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
    except Exception:
        pass  # a malformed request: moto itself answers with the error
    try:
        return _transact_write_items(self, transact_items)
    except Exception:
        for table, hash_key, range_key, item in reversed(saved):
            if item is None:
                if range_key is not None:
                    table.items[hash_key].pop(range_key, None)
                else:
                    table.items.pop(hash_key, None)
            elif range_key is not None:
                table.items[hash_key][range_key] = item
            else:
                table.items[hash_key] = item
        raise


dynamodb_models.DynamoDBBackend.transact_write_items = transact_write_items

_app = DomainDispatcherApplication(create_backend_app)
_lock = threading.Lock()


def serialized(environ, start_response):
    with _lock:
        return [b"".join(_app(environ, start_response))]


if __name__ == "__main__":
    run_simple("127.0.0.1", int(sys.argv[1]), serialized, threaded=True)
