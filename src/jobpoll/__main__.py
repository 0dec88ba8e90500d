from jobpoll.cli import main

main()
