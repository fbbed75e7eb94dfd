from .engine.cli import leave, main

leave(main())
