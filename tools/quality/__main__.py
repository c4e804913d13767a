from tools.quality.evaluate import main

main()
