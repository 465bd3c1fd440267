public import PipeBusCore
