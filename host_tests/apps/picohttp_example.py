from picohttp import *


def requestHandler(request, response):
    if request.path[0] == "hello":
        response.data = "Hello world!"
    elif request.path[0] == "goodbye":
        response.data = "Goodbye cruel world"
    else:
        response.status = 404


httpServer = HttpServer(8080, requestHandler)
