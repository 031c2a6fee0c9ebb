# Static files as a browser meets them (issue 17): validators, 304s, ranges,
# Cache-Control and the folder redirect. argv[1] is the folder to serve.
import sys

from httpserver import App, FileResponse
from httpserver.files import conditional

app = App()
folder = sys.argv[1]
app.static("/static", folder)
app.static("/cached", folder, max_age=3600)


@app.get("/handler/file")
async def plain_file(request):
    return FileResponse(folder + "/data.txt")


@app.get("/handler/conditional")
async def conditional_file(request):
    return conditional(request, FileResponse(folder + "/data.txt"))


app.run(host="127.0.0.1", port=0)
