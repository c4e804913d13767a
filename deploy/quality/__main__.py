from deploy.quality.run import main

main()
