from app.cli import main

if __name__ == "__main__":  # sweep workers are spawned processes: importing this must not start a server
    raise SystemExit(main())
