from zoobench.cli import main

main()
