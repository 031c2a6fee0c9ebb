# Only a template page, to serve on a small heap (-X heapsize=64K).
import sys

from httpserver import App
from httpserver.templates import render_template

app = App()


@app.get("/page")
def page(request):
    rows = int(request.query_params.get("rows", ["3"])[0])
    return render_template("table.html", title="Board", rows=range(rows))


app.run(host="127.0.0.1", port=int(sys.argv[1]) if len(sys.argv) > 1 else 0)
