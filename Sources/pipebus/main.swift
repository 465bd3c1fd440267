print("pipebus")
