def hello():
    return "hello v1"
