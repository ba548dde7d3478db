from tests.fakejobs import make

run = make("maintain")
