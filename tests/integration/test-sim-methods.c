#include "simfx.h"
int
main(void)
{
    return 0;
}
