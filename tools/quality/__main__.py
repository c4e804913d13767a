from tools.quality.run import main

main()
