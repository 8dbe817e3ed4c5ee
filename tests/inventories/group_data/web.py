color = "web"
app_port = 8080
_hidden = 1


def helper():  # functions are not data
    return 1
