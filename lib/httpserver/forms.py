# request.form(): the body's fields, urlencoded or multipart/form-data.
# Loaded with the first call, so that the multipart parser costs heap only
# when a multipart body comes.
from .protocol import parse_query


def form(request):
    if request.headers.get("content-type", "")[:10].lower() == "multipart/":
        from .multipart import form

        return form(request)
    return parse_query(request.body)
