from tiltpy.cli.main import run

run()
