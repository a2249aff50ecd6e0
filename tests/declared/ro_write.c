/* writes a read-only argument: subtracts each row's max from x in place
 * (x is declared access "read": the runner maps it read-only) */
void softmax_rows(float *x, float *y, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        float *xr = x + (long)r * cols, m = xr[0];
        for (int c = 1; c < cols; c++) m = xr[c] > m ? xr[c] : m;
        for (int c = 0; c < cols; c++) xr[c] -= m;
        for (int c = 0; c < cols; c++) y[(long)r * cols + c] = 1.0f / cols;
    }
}
