from keras_patchnet.cli import main

raise SystemExit(main())
