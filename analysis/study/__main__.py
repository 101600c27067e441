import sys

from analysis.study.run import main

sys.exit(main())
