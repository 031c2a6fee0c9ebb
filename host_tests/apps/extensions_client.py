# Sends the requests listed in the JSON file argv[1] ([method, path, headers,
# body] each) to extensions_app through the test client, each with a fresh
# client, and prints the answers as one JSON line: [status, fields, body].
import json
import sys

from extensions_app import app
from httpserver.testing import TestClient

with open(sys.argv[1]) as file:
    requests = json.load(file)
answers = []
for method, path, headers, body in requests:
    try:
        response = TestClient(app)._run(method, path, headers=headers, body=body)
    except Exception as exc:  # a streamed body that failed after its head
        answers.append(["error", str(exc)])
        continue
    answers.append([response.status_code, response.header_list, response.body.decode()])
print(json.dumps(answers))
