"""The sandbox's HTTP routes: v3 reads (v3.py), partner-order writes (partner.py), admin
(admin.py), and the JSON shapes they answer with (shapes.py). They read the live sandbox from
`request.app.state.sandbox`."""
